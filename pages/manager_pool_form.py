import streamlit as st
st.write('manager_pool_form')
